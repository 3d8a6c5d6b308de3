"""The Kubernetes protocol: kubectl (or any client-go client) talks to the gateway as to an API
server. Each request is read by the API server's own RequestInfo rules (proctor.kuberequest),
put through the command lifecycle, forwarded with the cluster credentials only the gateway
holds, and its answer masked (masking.py) before the client sees it."""

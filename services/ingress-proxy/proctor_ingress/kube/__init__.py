"""The Kubernetes protocol of the ingress-proxy: kubectl's HTTP requests judged, proxied to the
cluster, and the cluster's answers masked on their way back."""

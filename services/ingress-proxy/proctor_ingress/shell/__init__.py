"""The shell path: commands on host resources (`kind: ssh`), whichever way the agent came in
(ssh/, the gRPC API in grpcapi/), through one lifecycle, run by the gateway over SSH with its
own key, their output masked."""

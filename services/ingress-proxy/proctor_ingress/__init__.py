"""The ingress-proxy: terminates the agent's protocol, asks for verdicts, executes, streams back."""

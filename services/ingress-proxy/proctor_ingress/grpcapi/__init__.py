"""The gRPC entrance (proctor.api.v1.GatewayService): `proctor exec` and programs (server.py)."""

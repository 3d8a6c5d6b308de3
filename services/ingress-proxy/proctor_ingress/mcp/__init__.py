"""The MCP protocol: agents call the tools of upstream MCP servers through the gateway."""

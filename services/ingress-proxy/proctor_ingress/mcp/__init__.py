"""The MCP listener: Proctor's own tools, and the tools of upstream MCP servers it governs."""

"""The console's live side: the WebSocket hub, screen pops for agents, and the ticket,
deadline and call feeds (docs/console.md, "WebSocket messages")."""

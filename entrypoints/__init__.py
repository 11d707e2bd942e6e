"""Ways into theData.io: the HTTP API, the CLI, and the container for library users."""

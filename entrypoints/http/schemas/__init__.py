"""The JSON shapes of the API (msgspec), and how domain results map onto them."""

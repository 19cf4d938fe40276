"""The one model: addresses, routes and rules (objects), plan operations (ops), their JSON
form (codec) and the ports adapters implement. Pure values; no input or output."""

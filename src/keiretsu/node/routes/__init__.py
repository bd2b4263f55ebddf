"""The node's HTTP resources, one module each: capture, events and queries (the EPCIS 2.0
REST binding), partners (node-to-node delivery) and the twin's own API."""

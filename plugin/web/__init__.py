"""The web side: store webhooks, the JSON API, the dashboard and the customer's page."""

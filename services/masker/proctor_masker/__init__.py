"""The masker: finds PII, payment, health data and secrets in result values and replaces them."""

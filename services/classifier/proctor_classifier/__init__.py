"""The classifier service: judges each command against the rule catalog and the policy."""

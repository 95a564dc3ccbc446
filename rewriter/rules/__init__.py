"""The rule set: its model, the strict YAML loader, the schema."""

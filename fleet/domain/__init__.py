"""Domain types shared by every layer: enums, value objects, secret references."""

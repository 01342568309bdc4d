"""The local OpenTDF-compatible platform: IdP, KAS, policy and authorization."""

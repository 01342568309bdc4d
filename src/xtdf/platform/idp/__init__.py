"""A Keycloak stand-in for the local platform: one realm, confidential clients, JWKS."""

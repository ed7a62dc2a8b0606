"""The booking engine's JSON API (/api/v1), its OpenAPI document, and the token page."""

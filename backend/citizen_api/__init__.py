"""The citizen API: a citizen (bearer token of role ``citizen``) reads their own data only."""

"""The merchant staff's API (role ``merchant``): redeem codes, reverse, read statements."""

"""Citizens reserve offers and merchants redeem them: the ledger's two-phase spend, one-time codes
and QR images, reversals, expiry of reservations, and daily merchant statements."""

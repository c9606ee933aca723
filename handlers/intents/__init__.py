"""What each intent does: a small function from a parsed message to state changes and a reply
card, inside the turn's transaction, by subject: stock, proposals, plans and queries. Which
function answers which message, and who may ask, is the registry's table (handlers/registry)."""

"""Pure helpers every layer uses (time, untrusted input, strict JSON, id bounds); they import
nothing else of the portal."""

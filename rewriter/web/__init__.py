"""URL and host facts as browsers see them: WHATWG parsing, hosts, globs. No HTML, no rules."""

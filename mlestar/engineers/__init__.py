"""Engineers answer the roles of the search: the built-in one offline, the LLM one with a model."""

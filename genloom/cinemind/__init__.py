"""cineMind (seed 000): generation tasks from Chinese-key briefs, graph results, the prompt builder, media tree."""

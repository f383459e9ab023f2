"""Looking inside a model: per-block summaries (parameters, FLOPs, shapes) and activation images."""

"""The leaders' API: live rankings and the explanations behind them."""

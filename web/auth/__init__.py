"""Accounts: the sign-in, password and registration pages (`views`) and the account records
behind them (`accounts`)."""

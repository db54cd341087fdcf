"""The people who sign in: accounts, their roles, passwords, sign-in, sessions and throttling."""

"""What a user reads: terminal output (rich) and, later, the HTML report."""

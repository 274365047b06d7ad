"""Episode datasets: recordings → demonstrations → LeRobot-v3-like Parquet, with statistics and plots.

    demos = read_demonstrations("session.nanover.zip")
    summary = build_dataset(["session.nanover.zip"], task="nanotube", output="dataset/")
"""

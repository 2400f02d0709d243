"""Benchmarks: metrics, tasks, tables and plots."""

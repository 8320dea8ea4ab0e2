"""Tests of the aws connector: a uniquely named package, so it never clashes with the root ``tests`` package."""

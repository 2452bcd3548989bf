"""Testing: test cases (and promptfoo import), test runs, their live events and JUnit XML."""

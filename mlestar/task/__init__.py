"""Task intake: find the files of a Kaggle-style task folder and infer what is asked."""

from mlestar.task.spec import ProblemType, SubmissionLayout, TaskSpec

__all__ = ["ProblemType", "SubmissionLayout", "TaskSpec"]

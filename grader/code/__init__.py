"""Code exercises: grading a student's NumPy file against the course's reference.

The package's modules, in the order a submission meets them: :mod:`~grader.code.spec` (the
exercise specs), :mod:`~grader.code.functions` (one record per course function: inputs,
reference, compared outputs), :mod:`~grader.code.plan` (specs into sandbox test calls),
:mod:`~grader.code.verdicts` (typed outcomes into verdicts), :mod:`~grader.code.diagnosis` (the
likely bug's candidates) with :mod:`~grader.code.matching` (comparing outputs with them; NumPy
only), :mod:`~grader.code.report` (the typed report and its JSON forms) and
:mod:`~grader.code.grade` (:func:`grade_source`, which runs them all). The names below are the
package's public interface, used by the CLI, the web app and the benchmarks.
"""

from grader.code.functions import FUNCTIONS, CourseFunction, expected_outputs, reference_call
from grader.code.grade import grade_source
from grader.code.plan import build_inputs
from grader.code.report import (
    CodeReport,
    FunctionReport,
    FunctionStatus,
    TestReport,
    Verdict,
    student_view,
)
from grader.code.spec import EXERCISES, Case, ExerciseSpec, FunctionSpec, SpeedSpec, load_spec

__all__ = [
    "EXERCISES",
    "FUNCTIONS",
    "Case",
    "CodeReport",
    "CourseFunction",
    "ExerciseSpec",
    "FunctionReport",
    "FunctionSpec",
    "FunctionStatus",
    "SpeedSpec",
    "TestReport",
    "Verdict",
    "build_inputs",
    "expected_outputs",
    "grade_source",
    "load_spec",
    "reference_call",
    "student_view",
]

"""Code exercises: grading a student's NumPy file against the course's reference.

The package's modules, in the order a submission meets them: :mod:`~grader.code.spec` (the
exercise specs), :mod:`~grader.code.cases` (which tests a check runs, in order, from the spec
alone), :mod:`~grader.code.fresh` (a fresh stub judged without running it),
:mod:`~grader.code.functions` (one record per course function: inputs, reference, compared
outputs), :mod:`~grader.code.plan` (the tests' inputs, expected outputs and sandbox calls),
:mod:`~grader.code.verdicts` (typed outcomes into verdicts), :mod:`~grader.code.diagnosis` (the
likely bug's candidates) with :mod:`~grader.code.matching` (comparing outputs with them; NumPy
only), :mod:`~grader.code.report` (the typed report and its JSON forms) and
:mod:`~grader.code.grade` (:func:`grade_source`, which runs them all). The names below are the
package's public interface, used by the CLI, the web app and the benchmarks; each is imported
on first use.
"""

from grader.lazy import lazy_exports

# Each public name and the module it lives in, imported on first use (PEP 562): the CLI's
# check of a stub needs the spec and the report, not the reference, the plan or NumPy.
_HOMES = {
    "FUNCTIONS": "functions", "CourseFunction": "functions", "expected_outputs": "functions",
    "reference_call": "functions",
    "grade_source": "grade",
    "build_inputs": "plan",
    "CodeReport": "report", "FunctionReport": "report", "FunctionStatus": "report",
    "TestReport": "report", "Verdict": "report", "student_view": "report",
    "EXERCISES": "spec", "Case": "spec", "ExerciseSpec": "spec", "FunctionSpec": "spec",
    "SpeedSpec": "spec", "load_spec": "spec",
}

__all__ = sorted(_HOMES)


__getattr__, __dir__ = lazy_exports(__name__, _HOMES)

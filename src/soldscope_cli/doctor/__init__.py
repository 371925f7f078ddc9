"""`soldscope doctor`: checks of this machine's setup, in one list, returning results.

Each check reads the machine through DoctorInputs (built by the context) and never prints or
changes anything. Must not import commands, output, onboarding, the context or Typer.
"""

from soldscope_cli.doctor.model import CheckResult, DoctorInputs, Level
from soldscope_cli.doctor.runner import exit_code, run_doctor

__all__ = ["CheckResult", "DoctorInputs", "Level", "exit_code", "run_doctor"]

"""`soldscope doctor`: checks of this machine's setup that return results and never print."""

from soldscope_cli.doctor.model import CheckResult, DoctorInputs, Level
from soldscope_cli.doctor.runner import exit_code, run_doctor

__all__ = ["CheckResult", "DoctorInputs", "Level", "exit_code", "run_doctor"]

"""submitit's SLURM launcher (hydra-submitit-launcher) with afuse's one-line error when sbatch
cannot submit the sweep (conf/hydra/launcher/slurm_gpu.yaml and slurm_cpu.yaml use it).

Hydra imports every module under hydra_plugins on each start. Where the submitit launcher is not
installed (a bare machine given afuse's checkout, such as the lent GPU one), this module must still
import, or every command would print Hydra's "Error importing plugin" warning. There the slurm_*
launcher configs do not compose either (their defaults come from that package), so nothing is lost.
"""

from afuse.slurm_submit import explained_submission

try:
    from hydra_plugins.hydra_submitit_launcher.submitit_launcher import SlurmLauncher
except ImportError:
    SlurmLauncher = None

if SlurmLauncher is not None:

    class AfuseSlurmLauncher(SlurmLauncher):
        def launch(self, job_overrides, initial_job_idx):
            with explained_submission():
                return super().launch(job_overrides, initial_job_idx)

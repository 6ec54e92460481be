"""submitit's SLURM launcher (hydra-submitit-launcher) with afuse's one-line error when sbatch
cannot submit the sweep (conf/hydra/launcher/slurm_gpu.yaml and slurm_cpu.yaml use it)."""

from hydra_plugins.hydra_submitit_launcher.submitit_launcher import SlurmLauncher

from afuse.slurm_submit import explained_submission


class AfuseSlurmLauncher(SlurmLauncher):
    def launch(self, job_overrides, initial_job_idx):
        with explained_submission():
            return super().launch(job_overrides, initial_job_idx)

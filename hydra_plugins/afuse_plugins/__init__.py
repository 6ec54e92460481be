"""afuse's Hydra plugins. Hydra instantiates launchers and sweepers only from the `hydra_plugins`
namespace package, so the ones afuse adapts live here; the logic stays in afuse/.

slurm.py     submitit's SLURM launcher; a sweep sbatch cannot submit is one error line
sweeper.py   Hydra's basic sweeper; a job stopped by bad input ends the sweep without a traceback hint
"""

"""afuse's Hydra launcher plugins. Hydra instantiates launchers only from the `hydra_plugins`
namespace package, so a launcher afuse adapts has to live here; the logic stays in afuse/."""

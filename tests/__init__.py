"""afuse's tests, a regular package so that `tests.<module>` always means this folder.

experiments/ imports helpers from here (the GPU check's loop set-ups, the AdapterHub export check).
As a namespace package it would lose to any installed distribution that ships a top-level `tests`
package, even with the checkout first on sys.path: Python takes a regular package wherever it
finds one before a namespace portion. The lent GPU machine has some 150 packages installed."""

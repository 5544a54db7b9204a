//! Unit tests of `report`: every phase and every condition reason, no cluster.

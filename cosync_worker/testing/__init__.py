"""pytest plugin for connector authors: sandbox emulators and AWS services (moto) as fixtures."""

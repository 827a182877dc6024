"""Form classes of the settings pages, one module per page."""

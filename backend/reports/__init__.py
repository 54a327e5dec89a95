"""Reports and exports for auditors and the Nan'ao pilot (docs/reports.md), framework-free:
``pilot`` assembles the pilot's yearly report, ``targets`` keeps its targets, ``exports`` defines the
auditors' tables, ``writers`` turns a table into CSV or XLSX in flat memory, and ``downloads``
names the files. The audience packages (admin_api, audit_api) only route to these."""

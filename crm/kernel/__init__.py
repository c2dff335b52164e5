"""The kernel every module builds on: data scope, money and VAT, numbered documents with states,
approvals, tenant time, core extension points, API and export conventions (capabilities.md section 2).

A tenant app (label ``kernel``): its few tables (numbering counters, transition log, approval rules and
requests, notices) exist in every tenant schema. It imports ``crm.platform`` and ``crm.tenants``; every
module may import it; it imports no module.
"""

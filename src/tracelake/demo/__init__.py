"""``tracelake demo``: a small fleet of example services, traffic and faults, one command.

Why it ships with tracelake: the fastest way to see what the product does is to watch
it observe something — four services (gateway → orders → payments, inventory), each
its own process, instrumented *only* through ``tracelake.sdk`` the way a user's
services would be, under a steady load, with payments degrading and recovering on a
schedule so that error logs, slow traces and a circuit opening and closing appear on
their own. The services double as the reference for instrumenting a real one.

Modules: :mod:`~tracelake.demo.schedule` (the fault timeline, a table),
:mod:`~tracelake.demo.faults` (what a fault is), :mod:`~tracelake.demo.services`
(the four apps), :mod:`~tracelake.demo.service` (one service as a process),
:mod:`~tracelake.demo.fleet` (starting and stopping them),
:mod:`~tracelake.demo.traffic` (the load and the schedule's driver) and
:mod:`~tracelake.demo.runner` (everything in order, and the clean stop).
"""

// A uPlot chart that follows its container's width. uPlot draws on a canvas and sets styles
// through the CSSOM, which the strict CSP allows (no inline style attributes in markup).
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';

export interface Series { label: string; stroke: string; fill?: string; bars?: boolean }

/** `window`: seconds of x shown, ending at the newest point (the dashboard's last hour). */
export function Chart(props: { title: string; series: Series[]; data: uPlot.AlignedData; height?: number; testid?: string; yLabel?: string; window?: number }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const key = props.series.map((s) => s.label).join('|');

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const width = () => Math.max(240, el.clientWidth || 600);
    const opts: uPlot.Options = {
      title: props.title,
      width: width(),
      height: props.height ?? 220,
      series: [
        {},
        ...props.series.map((s) => ({
          label: s.label,
          stroke: s.stroke,
          fill: s.fill,
          width: 2,
          paths: s.bars ? uPlot.paths.bars!({ size: [0.6, 40] }) : undefined,
        })),
      ],
      axes: [{}, { label: props.yLabel, size: 60 }],
      scales: {
        x: props.window
          ? { time: true, range: (u) => { const xs = u.data[0]; const end = xs.length ? xs[xs.length - 1]! : Date.now() / 1000; return [end - props.window!, end]; } }
          : { time: true },
        y: { range: (_u, min, max) => [0, Math.max(1, (max ?? 0) * 1.1, min ?? 0)] },
      },
    };
    plot.current = new uPlot(opts, props.data, el);
    const ro = new ResizeObserver(() => plot.current?.setSize({ width: width(), height: props.height ?? 220 }));
    ro.observe(el);
    return () => {
      ro.disconnect();
      plot.current?.destroy();
      plot.current = null;
    };
    // Rebuilt only when the series change; new data goes through setData below.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key]);

  useEffect(() => {
    plot.current?.setData(props.data);
  }, [props.data]);

  return <div class="chart" ref={box} role="img" aria-label={props.title} data-testid={props.testid} />;
}
